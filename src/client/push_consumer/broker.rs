//! What the push consumer asks of brokers: heartbeats (its subscriptions), leaving the
//! group, the group's member list, offsets (read and commit) and sending a message back for
//! redelivery.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use super::Inner;
use crate::client::error::ClientError;
use crate::client::group;
use crate::client::message::MessageQueue;
use crate::client::pull_consumer::ReceivedMessage;
use crate::client::route::PublishInfo;
use crate::protocol::{ExtFields, RemotingCommand, RequestCode, ResponseCode};

const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// A queue's key in the broadcasting offset file.
fn local_key(q: &MessageQueue) -> String {
    format!("{}@{}@{}", q.topic, q.broker_name, q.queue_id)
}

impl Inner {
    /// Broker name → master address, for every subscribed topic.
    pub(super) async fn brokers(&self) -> HashMap<String, String> {
        for topic in self.subscriptions.keys() {
            if let Ok(info) = self.routes.subscribe_info(topic).await {
                self.remember(&info);
            }
        }
        self.masters.lock().clone()
    }

    /// Reads the topic's brokers from the NameServer again (a pull to one failed).
    pub(super) async fn refresh_masters(&self, topic: &str) {
        if let Ok(info) = self.routes.subscribe_info(topic).await {
            self.remember(&info);
        }
    }

    /// Keeps a route's addresses: masters (or a slave standing in) and every replica.
    pub(super) fn remember(&self, info: &PublishInfo) {
        self.masters.lock().extend(info.masters.clone());
        self.replicas.lock().extend(info.replicas.clone());
    }

    pub(super) fn master(&self, broker_name: &str) -> Option<String> {
        self.masters.lock().get(broker_name).cloned()
    }

    /// Where to pull from: the broker id the last pull reply suggested (a slave, for a
    /// consumer far behind with slaveReadEnable), when the route has it; else the master.
    pub(super) fn pull_addr(&self, broker_name: &str, suggested: i64) -> Option<String> {
        if suggested != 0 {
            let replica = self
                .replicas
                .lock()
                .get(broker_name)
                .and_then(|r| r.get(&suggested).cloned());
            if replica.is_some() {
                return replica;
            }
        }
        self.master(broker_name)
    }

    async fn call(&self, addr: &str, req: RemotingCommand) -> Result<RemotingCommand, ClientError> {
        let what = format!("{:?} to {addr}", req.request_code());
        let resp = self.client.invoke(addr, req, CALL_TIMEOUT).await?;
        if resp.response_code() != ResponseCode::Success {
            return Err(ClientError::Broker {
                what,
                code: resp.response_code(),
                remark: resp.remark.clone().unwrap_or_default(),
            });
        }
        Ok(resp)
    }

    /// SQL92 subscriptions are compiled by a broker before the consumer starts
    /// (CHECK_CLIENT_CONFIG), so a typo fails `start` with the parser's message instead of
    /// every pull failing later.
    pub(super) async fn check_sql_subscriptions(&self) -> Result<(), ClientError> {
        for (topic, sub) in self.subscriptions.iter().filter(|(_, s)| s.sql) {
            let Some(addr) = self.brokers().await.into_values().next() else {
                return Err(ClientError::NoRoute(topic.clone()));
            };
            let body = json!({"clientId": self.client_id, "group": self.cfg.group,
                "subscriptionData": sub.data(topic)});
            let req =
                RemotingCommand::new_request(RequestCode::CheckClientConfig, ExtFields::new())
                    .with_body(body.to_string().into_bytes());
            self.call(&addr, req).await?;
        }
        Ok(())
    }

    /// HEART_BEAT to every broker of the subscribed topics: the group, its model and
    /// subscriptions. Fails when no broker took it.
    pub(super) async fn heartbeat(&self) -> Result<(), ClientError> {
        let body = group::heartbeat_body(
            &self.client_id,
            &self.cfg.group,
            false,
            self.model(),
            self.subscriptions.iter(),
        );
        let mut result = Err(ClientError::NoRoute(self.cfg.group.clone()));
        for addr in self.brokers().await.values() {
            match group::heartbeat(&self.client, addr, &body).await {
                Ok(()) => result = Ok(()),
                Err(e) if result.is_err() => result = Err(e),
                Err(e) => tracing::warn!(broker = %addr, error = %e, "heartbeat refused"),
            }
        }
        result
    }

    pub(super) async fn unregister(&self) {
        for addr in self.brokers().await.values() {
            group::unregister(&self.client, addr, &self.client_id, &self.cfg.group).await;
        }
    }

    /// The group's consumer ids, sorted, from a broker of the topic.
    pub(super) async fn consumer_ids(&self, addr: &str) -> Option<Vec<String>> {
        group::consumer_ids(&self.client, addr, &self.cfg.group).await
    }

    pub(super) fn model(&self) -> &'static str {
        if self.cfg.broadcast_offsets.is_some() {
            "BROADCASTING"
        } else {
            "CLUSTERING"
        }
    }

    /// The committed offset, or the end of the queue for a group new to it (the retry topic:
    /// its start), as CONSUME_FROM_LAST_OFFSET.
    pub(super) async fn start_offset(&self, q: &MessageQueue) -> i64 {
        let Some(addr) = self.master(&q.broker_name) else {
            return 0;
        };
        if let Some(o) = self.local_offsets.lock().get(&local_key(q)) {
            return *o;
        }
        let mut ext = ExtFields::with_capacity(3);
        ext.insert("consumerGroup", &self.cfg.group);
        ext.insert("topic", &q.topic);
        ext.insert_display("queueId", q.queue_id);
        let req = RemotingCommand::new_request(RequestCode::QueryConsumerOffset, ext);
        if let Ok(resp) = self.call(&addr, req).await {
            if let Ok(Some(o)) = resp.ext_fields.opt_num::<i64>("offset") {
                return o;
            }
        }
        if q.topic.starts_with("%RETRY%") {
            return 0;
        }
        let mut ext = ExtFields::with_capacity(2);
        ext.insert("topic", &q.topic);
        ext.insert_display("queueId", q.queue_id);
        let req = RemotingCommand::new_request(RequestCode::GetMaxOffset, ext);
        match self.call(&addr, req).await {
            Ok(resp) => resp
                .ext_fields
                .opt_num("offset")
                .ok()
                .flatten()
                .unwrap_or(0),
            Err(_) => 0,
        }
    }

    /// Stores a queue's offset (the broker, or the broadcasting offset file); false when it
    /// was not stored.
    pub(super) async fn commit(&self, q: &MessageQueue, offset: i64) -> bool {
        if let Some(path) = self.cfg.broadcast_offsets.clone() {
            let _in_order = self.local_file.lock().await;
            let text = {
                let mut all = self.local_offsets.lock();
                all.insert(local_key(q), offset);
                serde_json::to_string_pretty(&*all).unwrap_or_default()
            };
            // An fsynced write: not on the runtime's threads.
            let saved = tokio::task::spawn_blocking(move || {
                crate::config_file::write_atomic(&path, &text)
                    .map_err(|e| format!("{}: {e}", path.display()))
            })
            .await;
            return match saved {
                Ok(Ok(())) => true,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "offsets not saved");
                    false
                }
                Err(e) => {
                    tracing::warn!(error = %e, "offset save task failed");
                    false
                }
            };
        }
        let request = || {
            let mut ext = ExtFields::with_capacity(4);
            ext.insert("consumerGroup", &self.cfg.group);
            ext.insert("topic", &q.topic);
            ext.insert_display("queueId", q.queue_id);
            ext.insert_display("commitOffset", offset);
            RemotingCommand::new_request(RequestCode::UpdateConsumerOffset, ext)
        };
        let Some(addr) = self.master(&q.broker_name) else {
            return false;
        };
        if self.call(&addr, request()).await.is_ok() {
            return true;
        }
        // The broker may be gone (a master down: its slave takes the commit) or moved.
        self.refresh_masters(&q.topic).await;
        match self.master(&q.broker_name) {
            Some(now) if now != addr => match self.call(&now, request()).await {
                Ok(_) => true,
                Err(e) => {
                    tracing::warn!(queue = ?q, error = %e, "offset commit failed");
                    false
                }
            },
            _ => {
                tracing::warn!(queue = ?q, broker = %addr, "offset commit failed");
                false
            }
        }
    }

    /// Commits every owned queue whose commit offset moved.
    pub(super) async fn commit_all(&self) {
        let dirty: Vec<(MessageQueue, i64)> = self
            .owned
            .lock()
            .iter()
            .filter_map(|(q, o)| o.pq.take_dirty().map(|offset| (q.clone(), offset)))
            .collect();
        for (q, offset) in dirty {
            if !self.commit(&q, offset).await {
                // Tried again at the next round, moved or not.
                if let Some(o) = self.owned.lock().get(&q) {
                    o.pq.commit_failed(offset);
                }
            }
        }
    }

    /// Orderly poison message: straight to the DLQ (send-back with delay level -1).
    pub(super) async fn send_to_dlq(&self, m: &ReceivedMessage) -> bool {
        self.send_back_at(m, -1).await
    }

    /// CONSUMER_SEND_MSG_BACK: the broker redelivers it through the retry topic (or the DLQ).
    pub(super) async fn send_back(&self, m: &ReceivedMessage) -> bool {
        self.send_back_at(m, 0).await
    }

    async fn send_back_at(&self, m: &ReceivedMessage, level: i32) -> bool {
        let Some(addr) = self.master(&m.queue.broker_name) else {
            return false;
        };
        let mut ext = ExtFields::with_capacity(6);
        ext.insert_display("offset", m.commit_log_offset);
        ext.insert("group", &self.cfg.group);
        ext.insert_display("delayLevel", level);
        ext.insert("originMsgId", &m.msg_id);
        ext.insert("originTopic", &m.topic);
        ext.insert_display("maxReconsumeTimes", self.cfg.max_reconsume_times);
        let req = RemotingCommand::new_request(RequestCode::ConsumerSendMsgBack, ext);
        self.call(&addr, req).await.is_ok()
    }
}
