//! Messages as stored: lookup by offset id, by key or unique key, by queue and offset, and
//! a queue's offset range.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::{error, now_ms, Admin};
use crate::client::error::{decode_records, ClientError};
use crate::client::message::MessageQueue;
use crate::protocol::{ExtFields, RemotingCommand, RequestCode, ResponseCode};

/// QUERY_MESSAGE may take long on a big index (RocketMQ's tool waits 18 s).
const QUERY_TIMEOUT: Duration = Duration::from_secs(18);
/// Pull flag: the subscription travels in the request; no suspend, no commit.
const FLAG_SUBSCRIPTION: i32 = 0x4;
/// Largest body a compressed message may inflate to.
const MAX_INFLATED: usize = 64 * 1024 * 1024;

/// One stored message with everything the broker keeps about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageDetail {
    /// The topic it was sent to.
    pub topic: String,
    /// The broker name the message was read from (empty when looked up by offset id).
    pub broker_name: String,
    /// The queue it was stored in.
    pub queue_id: i32,
    /// Its position in that queue.
    pub queue_offset: i64,
    /// Its position in the broker's CommitLog, bytes.
    pub commit_log_offset: i64,
    /// Store host + CommitLog offset, RocketMQ's "OffsetID".
    pub offset_msg_id: String,
    /// UNIQ_KEY when the producer set one, else the offset id.
    pub msg_id: String,
    /// How often it was redelivered.
    pub reconsume_times: i32,
    /// When the producer created it, ms since the epoch.
    pub born_timestamp_ms: i64,
    /// When the broker stored it, ms since the epoch.
    pub store_timestamp_ms: i64,
    /// The producer's address, `ip:port`.
    pub born_host: String,
    /// The broker's address, `ip:port`.
    pub store_host: String,
    /// RocketMQ's sysFlag (0x1 compressed, transaction bits).
    pub sys_flag: i32,
    /// The user flag.
    pub flag: i32,
    /// The record's size in the CommitLog, bytes.
    pub store_size: usize,
    /// The CRC32 of the body as stored.
    pub body_crc: u32,
    /// Properties in the order they were stored.
    pub properties: Vec<(String, String)>,
    /// The body, inflated when it was stored compressed.
    #[serde(skip)]
    pub body: Vec<u8>,
}

impl MessageDetail {
    /// A property's value.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The message's keys (KEYS, space-separated).
    pub fn keys(&self) -> Vec<&str> {
        self.property("KEYS")
            .map(|k| k.split(' ').filter(|k| !k.is_empty()).collect())
            .unwrap_or_default()
    }
}

/// What a pull of one queue found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullOutcome {
    /// RocketMQ's PullStatus name: FOUND, NO_NEW_MSG (nothing at or after the offset yet),
    /// NO_MATCHED_MSG (messages, none matching the filter) or OFFSET_ILLEGAL.
    pub status: &'static str,
    /// The messages found, in queue order (empty unless FOUND).
    pub messages: Vec<MessageDetail>,
    /// Where the next pull starts.
    pub next_offset: i64,
}

/// Decodes stored records (a pull or query body); `broker_name` labels them.
fn decode(broker_name: &str, body: &[u8]) -> Result<Vec<MessageDetail>, ClientError> {
    let records = decode_records(body, || format!("records from {broker_name}"))?;
    Ok(records
        .into_iter()
        .map(|r| {
            let properties: Vec<(String, String)> =
                ferrumq_store::message::iter_properties(r.properties)
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
            let offset_msg_id = ferrumq_store::offset_msg_id(r.store_host, r.physical_offset);
            let msg_id = properties
                .iter()
                .find(|(k, _)| k == "UNIQ_KEY")
                .map_or_else(|| offset_msg_id.clone(), |(_, v)| v.clone());
            let body = if r.sys_flag & 0x1 != 0 {
                crate::protocol::inflate_bounded(r.body, MAX_INFLATED)
                    .unwrap_or_else(|_| r.body.to_vec())
            } else {
                r.body.to_vec()
            };
            MessageDetail {
                topic: r.topic.to_string(),
                broker_name: broker_name.to_string(),
                queue_id: r.queue_id,
                queue_offset: r.queue_offset,
                commit_log_offset: r.physical_offset,
                offset_msg_id,
                msg_id,
                reconsume_times: r.reconsume_times,
                born_timestamp_ms: r.born_timestamp_ms,
                store_timestamp_ms: r.store_timestamp_ms,
                born_host: r.born_host.to_string(),
                store_host: r.store_host.to_string(),
                sys_flag: r.sys_flag,
                flag: r.flag,
                store_size: r.total_size,
                body_crc: r.body_crc,
                properties,
                body,
            }
        })
        .collect())
}

impl Admin {
    /// The message an offset id names (VIEW_MESSAGE_BY_ID to the store host in the id).
    pub async fn view_message(&self, offset_msg_id: &str) -> Result<MessageDetail, ClientError> {
        let (host, offset) =
            ferrumq_store::decode_offset_msg_id(offset_msg_id).ok_or_else(|| {
                ClientError::Broker {
                    what: format!("message id {offset_msg_id}"),
                    code: ResponseCode::NoMessage,
                    remark: "not an offset message id (store host + CommitLog offset)".into(),
                }
            })?;
        let mut ext = ExtFields::with_capacity(1);
        ext.insert_display("offset", offset);
        let resp = self
            .broker_call(&host.to_string(), RequestCode::ViewMessageById, ext)
            .await?;
        let mut message =
            decode("", &resp.body)?
                .into_iter()
                .next()
                .ok_or_else(|| ClientError::Broker {
                    what: format!("message id {offset_msg_id}"),
                    code: ResponseCode::NoMessage,
                    remark: "the broker returned no message".into(),
                })?;
        // The broker name is not in the record: the cluster info knows whose address it is.
        if let Ok(info) = self.cluster_info().await {
            let host = host.to_string();
            if let Some(b) = info
                .broker_addr_table
                .values()
                .find(|b| b.broker_addrs.values().any(|a| *a == host))
            {
                message.broker_name = b.broker_name.clone();
            }
        }
        Ok(message)
    }

    /// Messages of `topic` whose key (or, with `unique`, whose UNIQ_KEY) is `key`, stored
    /// between the two times, from every broker of the topic (QUERY_MESSAGE). The broker's
    /// index is a hash: only exact matches of key and topic are kept.
    pub async fn query_messages(
        &self,
        topic: &str,
        key: &str,
        unique: bool,
        max: i32,
        range_ms: (i64, i64),
    ) -> Result<Vec<MessageDetail>, ClientError> {
        let mut out = self.query_raw(topic, key, unique, max, range_ms).await?;
        out.retain(|m| {
            m.topic == topic
                && if unique {
                    m.msg_id == key
                } else {
                    m.keys().contains(&key)
                }
        });
        Ok(out)
    }

    /// QUERY_MESSAGE to every broker of the topic, unfiltered (the index may return hash
    /// collisions).
    async fn query_raw(
        &self,
        topic: &str,
        key: &str,
        unique: bool,
        max: i32,
        range_ms: (i64, i64),
    ) -> Result<Vec<MessageDetail>, ClientError> {
        let mut out = Vec::new();
        for (name, addr) in self.route_brokers(topic).await? {
            let mut ext = ExtFields::with_capacity(6);
            ext.insert("topic", topic);
            ext.insert("key", key);
            ext.insert_display("maxNum", max);
            ext.insert_display("beginTimestamp", range_ms.0);
            ext.insert_display("endTimestamp", range_ms.1);
            ext.insert_display("_UNIQUE_KEY_QUERY", unique);
            let req = RemotingCommand::new_request(RequestCode::QueryMessage, ext);
            let resp = self.client.invoke(&addr, req, QUERY_TIMEOUT).await?;
            match resp.response_code() {
                ResponseCode::Success => out.extend(decode(&name, &resp.body)?),
                ResponseCode::QueryNotFound => {}
                _ => return Err(error(RequestCode::QueryMessage, &addr, &resp)),
            }
        }
        Ok(out)
    }

    /// Messages of `topic` stored with `key` (KEYS or UNIQ_KEY) in the last `within`, from
    /// every broker of the topic.
    pub async fn query_message_by_key(
        &self,
        topic: &str,
        key: &str,
        within: Duration,
    ) -> Result<Vec<crate::client::ReceivedMessage>, ClientError> {
        let now = now_ms();
        let range = (now - within.as_millis() as i64, now + 1_000);
        let mut found = self.query_raw(topic, key, false, 64, range).await?;
        found.retain(|m| m.topic == topic && (m.keys().contains(&key) || m.msg_id == key));
        Ok(found
            .into_iter()
            .map(|m| crate::client::ReceivedMessage {
                topic: m.topic.clone(),
                queue: MessageQueue {
                    topic: m.topic,
                    broker_name: m.broker_name,
                    queue_id: m.queue_id,
                },
                queue_offset: m.queue_offset,
                msg_id: m.msg_id,
                commit_log_offset: m.commit_log_offset,
                body: bytes::Bytes::from(m.body),
                properties: m.properties.into_iter().collect::<BTreeMap<_, _>>(),
                born_timestamp_ms: m.born_timestamp_ms,
                store_timestamp_ms: m.store_timestamp_ms,
                reconsume_times: m.reconsume_times,
            })
            .collect())
    }

    /// Asks a live consumer to consume one message now (CONSUME_MESSAGE_DIRECTLY, through
    /// the broker that stored it); returns the consumer's ConsumeMessageDirectlyResult.
    pub async fn consume_message_directly(
        &self,
        group: &str,
        client_id: &str,
        message: &MessageDetail,
    ) -> Result<serde_json::Value, ClientError> {
        let mut ext = ExtFields::with_capacity(3);
        ext.insert("consumerGroup", group);
        ext.insert("clientId", client_id);
        ext.insert("msgId", &message.offset_msg_id);
        let resp = self
            .call(
                &message.store_host,
                RequestCode::ConsumeMessageDirectly,
                ext,
                None,
                Duration::from_secs(15),
            )
            .await?;
        super::lenient_json("consume result", &resp.body)
    }

    /// The first offset of a queue still stored (GET_MIN_OFFSET).
    pub async fn min_offset(
        &self,
        broker_addr: &str,
        queue: &MessageQueue,
    ) -> Result<i64, ClientError> {
        self.queue_offset(broker_addr, queue, RequestCode::GetMinOffset, None)
            .await
    }

    /// The offset after a queue's last message (GET_MAX_OFFSET).
    pub async fn max_offset(
        &self,
        broker_addr: &str,
        queue: &MessageQueue,
    ) -> Result<i64, ClientError> {
        self.queue_offset(broker_addr, queue, RequestCode::GetMaxOffset, None)
            .await
    }

    /// The offset of the first message of a queue stored at or after `timestamp_ms`
    /// (SEARCH_OFFSET_BY_TIMESTAMP).
    pub async fn search_offset(
        &self,
        broker_addr: &str,
        queue: &MessageQueue,
        timestamp_ms: i64,
    ) -> Result<i64, ClientError> {
        let code = RequestCode::SearchOffsetByTimestamp;
        self.queue_offset(broker_addr, queue, code, Some(timestamp_ms))
            .await
    }

    async fn queue_offset(
        &self,
        broker_addr: &str,
        queue: &MessageQueue,
        code: RequestCode,
        timestamp_ms: Option<i64>,
    ) -> Result<i64, ClientError> {
        let mut ext = ExtFields::with_capacity(3);
        ext.insert("topic", &queue.topic);
        ext.insert_display("queueId", queue.queue_id);
        if let Some(ms) = timestamp_ms {
            ext.insert_display("timestamp", ms);
        }
        let resp = self.broker_call(broker_addr, code, ext).await?;
        Ok(resp
            .ext_fields
            .get("offset")
            .and_then(|o| o.parse().ok())
            .unwrap_or(0))
    }

    /// Pulls up to `max` messages of one queue from `offset` as `group` (RocketMQ's tool
    /// pulls as TOOLS_CONSUMER) without joining it or committing (PULL_MESSAGE with only
    /// the subscription flag), filtered by `tags` (`*` or `TagA || TagB`).
    pub async fn pull(
        &self,
        broker_addr: &str,
        group: &str,
        queue: &MessageQueue,
        offset: i64,
        max: i32,
        tags: &str,
    ) -> Result<PullOutcome, ClientError> {
        let mut ext = ExtFields::with_capacity(10);
        ext.insert("consumerGroup", group);
        ext.insert("topic", &queue.topic);
        ext.insert_display("queueId", queue.queue_id);
        ext.insert_display("queueOffset", offset);
        ext.insert_display("maxMsgNums", max);
        ext.insert_display("sysFlag", FLAG_SUBSCRIPTION);
        ext.insert("commitOffset", "0");
        ext.insert("suspendTimeoutMillis", "0");
        ext.insert("subscription", tags);
        ext.insert("subVersion", "0");
        ext.insert("expressionType", "TAG");
        let req = RemotingCommand::new_request(RequestCode::PullMessage, ext);
        let resp = self.client.invoke(broker_addr, req, self.timeout).await?;
        let next_offset = resp
            .ext_fields
            .get("nextBeginOffset")
            .and_then(|o| o.parse().ok())
            .unwrap_or(offset);
        let (status, messages) = match resp.response_code() {
            ResponseCode::Success => ("FOUND", decode(&queue.broker_name, &resp.body)?),
            ResponseCode::PullNotFound => ("NO_NEW_MSG", Vec::new()),
            ResponseCode::PullRetryImmediately => ("NO_MATCHED_MSG", Vec::new()),
            ResponseCode::PullOffsetMoved => ("OFFSET_ILLEGAL", Vec::new()),
            _ => return Err(error(RequestCode::PullMessage, broker_addr, &resp)),
        };
        Ok(PullOutcome {
            status,
            messages,
            next_offset,
        })
    }
}
