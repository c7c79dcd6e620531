//! Consumer and producer groups: subscription group configs, consume progress, live
//! connections, a consumer's running info, offset resets and updates.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{bad_body, lenient_json, parse_offset_table, queue_of_key, Admin, QueueProgress};
use crate::client::error::ClientError;
use crate::client::message::MessageQueue;
use crate::protocol::{
    ConsumerConnection, ExtFields, JsonBody, ProducerConnection, RequestCode,
    SubscriptionGroupConfig,
};

/// GET_CONSUME_STATS, GET_CONSUMER_RUNNING_INFO and CONSUME_MESSAGE_DIRECTLY wait longer
/// (the broker may ask a client), as RocketMQ's tool does.
const SLOW_CALL: Duration = Duration::from_secs(15);

/// The retry topic of a group: every broker where the group consumes has it.
pub(crate) fn retry_topic(group: &str) -> String {
    format!("%RETRY%{group}")
}

impl Admin {
    /// A group's progress on every topic it consumed, from every broker of its retry topic
    /// (as mqadmin consumerProgress -g), with the summed consume TPS.
    pub async fn group_progress(
        &self,
        group: &str,
    ) -> Result<(Vec<QueueProgress>, f64), ClientError> {
        let (mut out, mut tps) = (Vec::new(), 0.0);
        for addr in self.route_brokers(&retry_topic(group)).await?.values() {
            let v = self.consume_stats_on(addr, group, None).await?;
            out.extend(parse_offset_table(&v));
            tps += v.get("consumeTps").and_then(|t| t.as_f64()).unwrap_or(0.0);
        }
        out.sort_by(|a, b| a.queue.cmp(&b.queue));
        Ok((out, tps))
    }

    /// One broker's GET_CONSUME_STATS for a group (all its topics when `topic` is None), as
    /// JSON with MessageQueue keys turned into strings.
    async fn consume_stats_on(
        &self,
        addr: &str,
        group: &str,
        topic: Option<&str>,
    ) -> Result<serde_json::Value, ClientError> {
        let mut ext = ExtFields::with_capacity(2);
        ext.insert("consumerGroup", group);
        if let Some(t) = topic {
            ext.insert("topic", t);
        }
        let resp = self
            .call(addr, RequestCode::GetConsumeStats, ext, None, SLOW_CALL)
            .await?;
        lenient_json("consume stats", &resp.body)
    }

    /// A group's progress on one broker (all its topics when `topic` is None).
    pub async fn group_progress_on(
        &self,
        addr: &str,
        group: &str,
        topic: Option<&str>,
    ) -> Result<(Vec<QueueProgress>, f64), ClientError> {
        let v = self.consume_stats_on(addr, group, topic).await?;
        let tps = v.get("consumeTps").and_then(|t| t.as_f64()).unwrap_or(0.0);
        Ok((parse_offset_table(&v), tps))
    }

    /// A group's progress on a topic, from every broker of the topic's route.
    pub async fn consume_stats(
        &self,
        group: &str,
        topic: &str,
    ) -> Result<Vec<QueueProgress>, ClientError> {
        let mut out = Vec::new();
        for addr in self.route_brokers(topic).await?.values() {
            out.extend(self.group_progress_on(addr, group, Some(topic)).await?.0);
        }
        out.sort_by(|a, b| a.queue.cmp(&b.queue));
        Ok(out)
    }

    /// Creates or updates a subscription group on one broker
    /// (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP).
    pub async fn update_subscription_group(
        &self,
        addr: &str,
        config: &SubscriptionGroupConfig,
    ) -> Result<(), ClientError> {
        self.call(
            addr,
            RequestCode::UpdateAndCreateSubscriptionGroup,
            ExtFields::new(),
            Some(config.encode()),
            self.timeout,
        )
        .await?;
        Ok(())
    }

    /// Deletes a subscription group from one broker (DELETE_SUBSCRIPTIONGROUP); with
    /// `remove_offset` its offsets go too.
    pub async fn delete_subscription_group(
        &self,
        addr: &str,
        group: &str,
        remove_offset: bool,
    ) -> Result<(), ClientError> {
        let mut ext = ExtFields::with_capacity(2);
        ext.insert("groupName", group);
        ext.insert_display("removeOffset", remove_offset);
        self.broker_call(addr, RequestCode::DeleteSubscriptionGroup, ext)
            .await?;
        Ok(())
    }

    /// The live clients of a consumer group and what they subscribe
    /// (GET_CONSUMER_CONNECTION_LIST), asked of `broker_addr` or of the first broker of the
    /// group's retry topic.
    pub async fn consumer_connection(
        &self,
        group: &str,
        broker_addr: Option<&str>,
    ) -> Result<ConsumerConnection, ClientError> {
        let addr = match broker_addr {
            Some(a) => a.to_string(),
            None => self.first_broker(&retry_topic(group)).await?,
        };
        let mut ext = ExtFields::with_capacity(1);
        ext.insert("consumerGroup", group);
        let resp = self
            .broker_call(&addr, RequestCode::GetConsumerConnectionList, ext)
            .await?;
        ConsumerConnection::decode(&resp.body)
            .map_err(|e| bad_body(format!("connections of {group}"), e))
    }

    /// The live clients of a producer group, asked of the first broker of `topic`'s route
    /// (GET_PRODUCER_CONNECTION_LIST).
    pub async fn producer_connection(
        &self,
        group: &str,
        topic: &str,
    ) -> Result<ProducerConnection, ClientError> {
        let addr = self.first_broker(topic).await?;
        let mut ext = ExtFields::with_capacity(1);
        ext.insert("producerGroup", group);
        let resp = self
            .broker_call(&addr, RequestCode::GetProducerConnectionList, ext)
            .await?;
        ProducerConnection::decode(&resp.body)
            .map_err(|e| bad_body(format!("connections of {group}"), e))
    }

    async fn first_broker(&self, topic: &str) -> Result<String, ClientError> {
        self.route_brokers(topic)
            .await?
            .into_values()
            .next()
            .ok_or_else(|| ClientError::NoRoute(topic.to_string()))
    }

    /// A live consumer's own report (GET_CONSUMER_RUNNING_INFO, forwarded by the first
    /// broker of the group's retry topic): properties, subscriptions, owned queues.
    pub async fn consumer_running_info(
        &self,
        group: &str,
        client_id: &str,
        jstack: bool,
    ) -> Result<serde_json::Value, ClientError> {
        let addr = self.first_broker(&retry_topic(group)).await?;
        let mut ext = ExtFields::with_capacity(3);
        ext.insert("consumerGroup", group);
        ext.insert("clientId", client_id);
        ext.insert_display("jstackEnable", jstack);
        let resp = self
            .call(
                &addr,
                RequestCode::GetConsumerRunningInfo,
                ext,
                None,
                SLOW_CALL,
            )
            .await?;
        lenient_json("consumer running info", &resp.body)
    }

    /// Moves a group's offsets on a topic to the first message at `timestamp_ms` (-1: the
    /// end) on every broker of the topic; live consumers are told. Returns the new offsets.
    pub async fn reset_offset_by_time(
        &self,
        topic: &str,
        group: &str,
        timestamp_ms: i64,
        force: bool,
    ) -> Result<BTreeMap<MessageQueue, i64>, ClientError> {
        let mut out = BTreeMap::new();
        for addr in self.route_brokers(topic).await?.values() {
            let mut ext = ExtFields::with_capacity(4);
            ext.insert("topic", topic);
            ext.insert("group", group);
            ext.insert_display("timestamp", timestamp_ms);
            ext.insert_display("isForce", force);
            let resp = self
                .broker_call(addr, RequestCode::InvokeBrokerToResetOffset, ext)
                .await?;
            let v = lenient_json("reset offsets", &resp.body)?;
            if let Some(table) = v.get("offsetTable").and_then(|t| t.as_object()) {
                for (key, offset) in table {
                    if let (Some(q), Some(o)) = (queue_of_key(key), offset.as_i64()) {
                        out.insert(q, o);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Sets a group's committed offset of one queue (UPDATE_CONSUMER_OFFSET).
    pub async fn update_consumer_offset(
        &self,
        addr: &str,
        group: &str,
        queue: &MessageQueue,
        offset: i64,
    ) -> Result<(), ClientError> {
        let mut ext = ExtFields::with_capacity(4);
        ext.insert("consumerGroup", group);
        ext.insert("topic", &queue.topic);
        ext.insert_display("queueId", queue.queue_id);
        ext.insert_display("commitOffset", offset);
        self.broker_call(addr, RequestCode::UpdateConsumerOffset, ext)
            .await?;
        Ok(())
    }

    /// Resets a group's offsets on a topic without asking live consumers (RocketMQ's old
    /// method, used when the group has no consumer online): per queue the offset of the
    /// first message at `timestamp_ms` (-1: the end) is committed when `force` or when it
    /// is not ahead of the group's offset. Returns (queue, [broker offset, consumer
    /// offset, offset at the time, offset committed]) per queue.
    pub async fn reset_offset_by_time_offline(
        &self,
        topic: &str,
        group: &str,
        timestamp_ms: i64,
        force: bool,
    ) -> Result<Vec<(MessageQueue, [i64; 4])>, ClientError> {
        let mut out = Vec::new();
        for addr in self.route_brokers(topic).await?.values() {
            let (mut rows, _) = self.group_progress_on(addr, group, Some(topic)).await?;
            rows.retain(|r| r.queue.topic == topic);
            if rows.is_empty() {
                // The group never consumed here: every queue from the topic's stats.
                for (q, o) in self.topic_stats_on(addr, topic).await?.offset_table {
                    rows.push(QueueProgress {
                        queue: MessageQueue {
                            topic: q.topic,
                            broker_name: q.broker_name,
                            queue_id: q.queue_id,
                        },
                        broker_offset: o.max_offset,
                        consumer_offset: 0,
                        last_timestamp_ms: 0,
                    });
                }
            }
            for r in rows {
                let at = if timestamp_ms < 0 {
                    self.max_offset(addr, &r.queue).await?
                } else {
                    self.search_offset(addr, &r.queue, timestamp_ms).await?
                };
                let rollback = if force || at <= r.consumer_offset {
                    self.update_consumer_offset(addr, group, &r.queue, at)
                        .await?;
                    at
                } else {
                    r.consumer_offset
                };
                out.push((r.queue, [r.broker_offset, r.consumer_offset, at, rollback]));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Copies `src`'s committed offsets on `topic` to `dest` (UPDATE_CONSUMER_OFFSET per
    /// queue, at the broker of `topic`'s route that holds the queue). Returns the number of
    /// queues copied.
    pub async fn clone_group_offset(
        &self,
        src: &str,
        dest: &str,
        topic: &str,
    ) -> Result<usize, ClientError> {
        let (rows, _) = self.group_progress(src).await?;
        let brokers = self.route_brokers(topic).await?;
        let mut copied = 0;
        for r in rows.iter().filter(|r| r.queue.topic == topic) {
            let Some(addr) = brokers.get(&r.queue.broker_name) else {
                continue;
            };
            self.update_consumer_offset(addr, dest, &r.queue, r.consumer_offset)
                .await?;
            copied += 1;
        }
        Ok(copied)
    }
}
