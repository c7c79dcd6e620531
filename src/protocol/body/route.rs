//! Route bodies: TopicRouteData, QueueData, BrokerData, ClusterInfo, TopicList.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::JsonBody;
use crate::protocol::lenient::{self, de_bool, de_i32, de_null_default};

/// Perm bits (wire doc §0).
pub mod perm {
    pub const PRIORITY: i32 = 8;
    pub const READ: i32 = 4;
    pub const WRITE: i32 = 2;
    pub const INHERIT: i32 = 1;
}

/// One broker name's queues of a topic.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueData {
    #[serde(default)]
    pub broker_name: String,
    #[serde(default, deserialize_with = "de_i32")]
    pub perm: i32,
    #[serde(default, deserialize_with = "de_i32")]
    pub read_queue_nums: i32,
    /// Very old brokers spelled it `topicSynFlag`.
    #[serde(default, alias = "topicSynFlag", deserialize_with = "de_i32")]
    pub topic_sys_flag: i32,
    #[serde(default, deserialize_with = "de_i32")]
    pub write_queue_nums: i32,
}

/// A broker name: its cluster and addresses by broker id (0 = master).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BrokerData {
    #[serde(default, deserialize_with = "de_null_default")]
    pub broker_addrs: BTreeMap<i64, String>,
    #[serde(default)]
    pub broker_name: String,
    #[serde(default)]
    pub cluster: String,
    #[serde(default, deserialize_with = "de_bool")]
    pub enable_acting_master: bool,
    /// Omitted when null: old parsers are happier without nulls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_name: Option<String>,
}

impl BrokerData {
    /// The master's address (id 0), if registered.
    pub fn master_addr(&self) -> Option<&str> {
        self.broker_addrs.get(&0).map(String::as_str)
    }
}

/// Reply body of GET_ROUTEINFO_BY_TOPIC.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicRouteData {
    #[serde(default, deserialize_with = "de_null_default")]
    pub broker_datas: Vec<BrokerData>,
    #[serde(default, deserialize_with = "de_null_default")]
    pub filter_server_table: HashMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_topic_conf: Option<String>,
    #[serde(default, deserialize_with = "de_null_default")]
    pub queue_datas: Vec<QueueData>,
}

impl JsonBody for TopicRouteData {}

impl TopicRouteData {
    /// The wire form: `standard_json` quotes brokerAddrs keys; otherwise they are bare numbers
    /// as fastjson writes them for clients before 4.9.4 (Go < 2.1.2 needs that). No whitespace.
    pub fn encode_route(&self, standard_json: bool) -> Vec<u8> {
        let json = self.encode();
        if standard_json {
            json
        } else {
            lenient::unquote_numeric_keys(&json)
        }
    }
}

/// Reply body of GET_BROKER_CLUSTER_INFO. Keys are quoted (a choice, see wire doc §4.1).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterInfo {
    #[serde(default, deserialize_with = "de_null_default")]
    pub broker_addr_table: BTreeMap<String, BrokerData>,
    #[serde(default, deserialize_with = "de_null_default")]
    pub cluster_addr_table: BTreeMap<String, BTreeSet<String>>,
}

impl JsonBody for ClusterInfo {}

/// Reply body of 206, 224, 304 (and the unit-topic lists).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicList {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_addr: Option<String>,
    #[serde(default, deserialize_with = "de_null_default")]
    pub topic_list: BTreeSet<String>,
}

impl JsonBody for TopicList {}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn sample() -> TopicRouteData {
        TopicRouteData {
            broker_datas: vec![BrokerData {
                broker_addrs: BTreeMap::from([
                    (0, "10.0.0.1:10911".to_owned()),
                    (1, "10.0.0.2:10911".to_owned()),
                ]),
                broker_name: "broker-a".into(),
                cluster: "DefaultCluster".into(),
                ..Default::default()
            }],
            queue_datas: vec![QueueData {
                broker_name: "broker-a".into(),
                perm: 6,
                read_queue_nums: 4,
                write_queue_nums: 4,
                topic_sys_flag: 0,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn route_legacy_form_matches_fastjson() {
        let out = String::from_utf8(sample().encode_route(false)).unwrap();
        assert_eq!(
            out,
            r#"{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}"#
        );
        assert_eq!(TopicRouteData::decode(out.as_bytes()).unwrap(), sample());
    }

    #[test]
    fn route_standard_form_quotes_ids() {
        let out = String::from_utf8(sample().encode_route(true)).unwrap();
        assert!(out.contains(r#"{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"}"#));
        assert_eq!(TopicRouteData::decode(out.as_bytes()).unwrap(), sample());
    }

    #[test]
    fn old_queue_data_spelling_and_string_numbers() {
        let q: QueueData = crate::protocol::lenient::from_slice(
            br#"{"brokerName":"b","perm":"6","readQueueNums":8,"writeQueueNums":8,"topicSynFlag":3}"#,
        )
        .unwrap();
        assert_eq!((q.perm, q.read_queue_nums, q.topic_sys_flag), (6, 8, 3));
    }
}
