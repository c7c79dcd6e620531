//! Broker and admin bodies: queues, locks, groups, connections, offsets and stats.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::heartbeat::{ConsumeFromWhere, ConsumeType, MessageModel, SubscriptionData};
use super::register::DataVersion;
use super::JsonBody;
use crate::protocol::lenient::{de_bool, de_i32, de_i64, de_null_default};

/// `{"brokerName":"b","queueId":0,"topic":"t"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageQueue {
    #[serde(default)]
    pub broker_name: String,
    #[serde(default, deserialize_with = "de_i32")]
    pub queue_id: i32,
    #[serde(default)]
    pub topic: String,
}

/// LOCK_BATCH_MQ (41) request body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockBatchRequestBody {
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub consumer_group: String,
    #[serde(default, deserialize_with = "de_null_default")]
    pub mq_set: BTreeSet<MessageQueue>,
    /// C++ omits it (false).
    #[serde(default, deserialize_with = "de_bool")]
    pub only_this_broker: bool,
}

impl JsonBody for LockBatchRequestBody {}

/// UNLOCK_BATCH_MQ (42) request body.
pub type UnlockBatchRequestBody = LockBatchRequestBody;

/// LOCK_BATCH_MQ reply body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LockBatchResponseBody {
    #[serde(rename = "lockOKMQSet", default, deserialize_with = "de_null_default")]
    pub lock_ok_mq_set: BTreeSet<MessageQueue>,
}

impl JsonBody for LockBatchResponseBody {}

/// GET_CONSUMER_LIST_BY_GROUP (38) reply body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetConsumerListByGroupResponseBody {
    #[serde(default, deserialize_with = "de_null_default")]
    pub consumer_id_list: Vec<String>,
}

impl JsonBody for GetConsumerListByGroupResponseBody {}

/// QUERY_TOPIC_CONSUME_BY_WHO (300) reply body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupList {
    #[serde(default, deserialize_with = "de_null_default")]
    pub group_list: BTreeSet<String>,
}

impl JsonBody for GroupList {}

fn yes() -> bool {
    true
}
fn one() -> i64 {
    1
}
fn one_i32() -> i32 {
    1
}
fn sixteen() -> i32 {
    16
}

/// A consumer group's settings (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, subscriptionGroup.json).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionGroupConfig {
    #[serde(default, deserialize_with = "de_i64")]
    pub broker_id: i64,
    #[serde(default = "yes", deserialize_with = "de_bool")]
    pub consume_broadcast_enable: bool,
    #[serde(default = "yes", deserialize_with = "de_bool")]
    pub consume_enable: bool,
    #[serde(default = "yes", deserialize_with = "de_bool")]
    pub consume_from_min_enable: bool,
    #[serde(default)]
    pub group_name: String,
    #[serde(default = "yes", deserialize_with = "de_bool")]
    pub notify_consumer_ids_changed_enable: bool,
    #[serde(default = "sixteen", deserialize_with = "de_i32")]
    pub retry_max_times: i32,
    #[serde(default = "one_i32", deserialize_with = "de_i32")]
    pub retry_queue_nums: i32,
    #[serde(default = "one", deserialize_with = "de_i64")]
    pub which_broker_when_consume_slowly: i64,
}

impl Default for SubscriptionGroupConfig {
    fn default() -> Self {
        SubscriptionGroupConfig {
            broker_id: 0,
            consume_broadcast_enable: true,
            consume_enable: true,
            consume_from_min_enable: true,
            group_name: String::new(),
            notify_consumer_ids_changed_enable: true,
            retry_max_times: 16,
            retry_queue_nums: 1,
            which_broker_when_consume_slowly: 1,
        }
    }
}

impl JsonBody for SubscriptionGroupConfig {}

/// GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201) reply / subscriptionGroup.json.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionGroupWrapper {
    #[serde(default)]
    pub data_version: DataVersion,
    #[serde(default, deserialize_with = "de_null_default")]
    pub subscription_group_table: BTreeMap<String, SubscriptionGroupConfig>,
}

impl JsonBody for SubscriptionGroupWrapper {}

/// One client connection in ConsumerConnection / ProducerConnection.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    #[serde(default)]
    pub client_addr: String,
    #[serde(default)]
    pub client_id: String,
    /// The language enum name, e.g. "JAVA", "CPP".
    #[serde(default)]
    pub language: String,
    #[serde(default, deserialize_with = "de_i32")]
    pub version: i32,
}

/// GET_CONSUMER_CONNECTION_LIST (203) reply body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerConnection {
    #[serde(default, deserialize_with = "de_null_default")]
    pub connection_set: BTreeSet<Connection>,
    pub consume_from_where: Option<ConsumeFromWhere>,
    pub consume_type: Option<ConsumeType>,
    pub message_model: Option<MessageModel>,
    #[serde(default, deserialize_with = "de_null_default")]
    pub subscription_table: BTreeMap<String, SubscriptionData>,
}

impl JsonBody for ConsumerConnection {}

/// GET_PRODUCER_CONNECTION_LIST (204) reply body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProducerConnection {
    #[serde(default, deserialize_with = "de_null_default")]
    pub connection_set: BTreeSet<Connection>,
}

impl JsonBody for ProducerConnection {}

/// CHECK_CLIENT_CONFIG (46) request body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckClientRequestBody {
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub subscription_data: Option<SubscriptionData>,
}

impl JsonBody for CheckClientRequestBody {}

/// One entry of ResetOffsetBodyForC.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageQueueForC {
    #[serde(default)]
    pub broker_name: String,
    #[serde(default, deserialize_with = "de_i64")]
    pub offset: i64,
    #[serde(default, deserialize_with = "de_i32")]
    pub queue_id: i32,
    #[serde(default)]
    pub topic: String,
}

/// RESET_CONSUMER_CLIENT_OFFSET (220) body for C++ clients.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResetOffsetBodyForC {
    #[serde(default, deserialize_with = "de_null_default")]
    pub offset_table: Vec<MessageQueueForC>,
}

impl JsonBody for ResetOffsetBodyForC {}

/// GET_ALL_CONSUMER_OFFSET (43) body: `"topic@group"` → queueId → offset.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerOffsetSerializeWrapper {
    #[serde(default, deserialize_with = "de_null_default")]
    pub offset_table: BTreeMap<String, BTreeMap<i32, i64>>,
}

impl JsonBody for ConsumerOffsetSerializeWrapper {}

/// ConsumeStats entry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OffsetWrapper {
    #[serde(default, deserialize_with = "de_i64")]
    pub broker_offset: i64,
    #[serde(default, deserialize_with = "de_i64")]
    pub consumer_offset: i64,
    #[serde(default, deserialize_with = "de_i64")]
    pub last_timestamp: i64,
}

/// TopicStatsTable entry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicOffset {
    #[serde(default, deserialize_with = "de_i64")]
    pub last_update_timestamp: i64,
    #[serde(default, deserialize_with = "de_i64")]
    pub max_offset: i64,
    #[serde(default, deserialize_with = "de_i64")]
    pub min_offset: i64,
}

/// GET_CONSUME_STATS (208) reply. Java reads it with MessageQueue object keys, so it is
/// written in fastjson's non-JSON form by [`ConsumeStats::encode_fastjson`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConsumeStats {
    pub offset_table: BTreeMap<MessageQueue, OffsetWrapper>,
    pub consume_tps: f64,
}

/// GET_TOPIC_STATS_INFO (202) reply, same key form as ConsumeStats.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicStatsTable {
    pub offset_table: BTreeMap<MessageQueue, TopicOffset>,
}

/// `{{"brokerName":..}:{..},..}` — fastjson's form for maps keyed by MessageQueue.
fn put_mq_map<V: Serialize>(out: &mut Vec<u8>, map: &BTreeMap<MessageQueue, V>) {
    out.push(b'{');
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&serde_json::to_vec(k).unwrap_or_default());
        out.push(b':');
        out.extend_from_slice(&serde_json::to_vec(v).unwrap_or_default());
    }
    out.push(b'}');
}

/// Parses a map whose keys were object keys (turned into JSON strings by the lenient pass).
fn parse_mq_map<V: serde::de::DeserializeOwned>(
    v: Option<&serde_json::Value>,
) -> Result<BTreeMap<MessageQueue, V>, crate::protocol::BodyError> {
    let mut out = BTreeMap::new();
    if let Some(serde_json::Value::Object(m)) = v {
        for (k, v) in m {
            let mq: MessageQueue = serde_json::from_str(k)?;
            out.insert(mq, serde_json::from_value(v.clone())?);
        }
    }
    Ok(out)
}

impl ConsumeStats {
    pub fn encode_fastjson(&self) -> Vec<u8> {
        let mut out = b"{\"consumeTps\":".to_vec();
        out.extend_from_slice(&serde_json::to_vec(&self.consume_tps).unwrap_or_default());
        out.extend_from_slice(b",\"offsetTable\":");
        put_mq_map(&mut out, &self.offset_table);
        out.push(b'}');
        out
    }

    pub fn decode(body: &[u8]) -> Result<Self, crate::protocol::BodyError> {
        let v: serde_json::Value = crate::protocol::lenient::from_slice(body)?;
        Ok(ConsumeStats {
            offset_table: parse_mq_map(v.get("offsetTable"))?,
            consume_tps: v.get("consumeTps").and_then(|t| t.as_f64()).unwrap_or(0.0),
        })
    }
}

impl TopicStatsTable {
    pub fn encode_fastjson(&self) -> Vec<u8> {
        let mut out = b"{\"offsetTable\":".to_vec();
        put_mq_map(&mut out, &self.offset_table);
        out.push(b'}');
        out
    }

    pub fn decode(body: &[u8]) -> Result<Self, crate::protocol::BodyError> {
        let v: serde_json::Value = crate::protocol::lenient::from_slice(body)?;
        Ok(TopicStatsTable {
            offset_table: parse_mq_map(v.get("offsetTable"))?,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn consume_stats_fastjson_round_trip() {
        let mut s = ConsumeStats {
            consume_tps: 1.5,
            ..Default::default()
        };
        s.offset_table.insert(
            MessageQueue {
                broker_name: "b".into(),
                queue_id: 1,
                topic: "t".into(),
            },
            OffsetWrapper {
                broker_offset: 10,
                consumer_offset: 7,
                last_timestamp: 3,
            },
        );
        let out = s.encode_fastjson();
        assert!(out.starts_with(
            br#"{"consumeTps":1.5,"offsetTable":{{"brokerName":"b","queueId":1,"topic":"t"}:"#
        ));
        assert_eq!(ConsumeStats::decode(&out).unwrap(), s);
    }

    #[test]
    fn lock_body_without_only_this_broker() {
        let b = LockBatchRequestBody::decode(
            br#"{"clientId":"c","consumerGroup":"g","mqSet":[{"brokerName":"b","queueId":"2","topic":"t"}]}"#,
        )
        .unwrap();
        assert!(!b.only_this_broker);
        assert_eq!(b.mq_set.iter().next().unwrap().queue_id, 2);
    }

    #[test]
    fn consumer_offsets_with_bare_integer_keys() {
        let w = ConsumerOffsetSerializeWrapper::decode(br#"{"offsetTable":{"t@g":{0:12,1:7}}}"#)
            .unwrap();
        assert_eq!(w.offset_table["t@g"][&1], 7);
    }
}
