//! HEART_BEAT body: HeartbeatData with producers, consumers and subscriptions.

use serde::{Deserialize, Serialize};

use super::JsonBody;
use crate::lenient_enum;
use crate::protocol::lenient::{de_bool, de_i64, de_null_default};

lenient_enum! {
    pub enum ConsumeType {
        ConsumeActively = 0 => "CONSUME_ACTIVELY",
        ConsumePassively = 1 => "CONSUME_PASSIVELY",
    }
}

lenient_enum! {
    pub enum MessageModel {
        Broadcasting = 0 => "BROADCASTING",
        Clustering = 1 => "CLUSTERING",
    }
}

lenient_enum! {
    pub enum ConsumeFromWhere {
        ConsumeFromLastOffset = 0 => "CONSUME_FROM_LAST_OFFSET",
        ConsumeFromLastOffsetAndFromMinWhenBootFirst = 1 => "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST",
        ConsumeFromMinOffset = 2 => "CONSUME_FROM_MIN_OFFSET",
        ConsumeFromMaxOffset = 3 => "CONSUME_FROM_MAX_OFFSET",
        ConsumeFromFirstOffset = 4 => "CONSUME_FROM_FIRST_OFFSET",
        ConsumeFromTimestamp = 5 => "CONSUME_FROM_TIMESTAMP",
    }
}

fn tag() -> String {
    "TAG".to_owned()
}

/// One subscription of a consumer group. C++ sends `codeSet` wrong (atoi of tags) and
/// `subVersion` as a string: recompute codes from `tagsSet` instead of trusting them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionData {
    #[serde(default, deserialize_with = "de_bool")]
    pub class_filter_mode: bool,
    #[serde(default, deserialize_with = "de_null_default")]
    pub code_set: Vec<i32>,
    #[serde(default = "tag")]
    pub expression_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_class_source: Option<String>,
    #[serde(default)]
    pub sub_string: String,
    #[serde(default, deserialize_with = "de_i64")]
    pub sub_version: i64,
    #[serde(default, deserialize_with = "de_null_default")]
    pub tags_set: Vec<String>,
    #[serde(default)]
    pub topic: String,
}

impl Default for SubscriptionData {
    fn default() -> Self {
        SubscriptionData {
            class_filter_mode: false,
            code_set: Vec::new(),
            expression_type: tag(),
            filter_class_source: None,
            sub_string: String::new(),
            sub_version: 0,
            tags_set: Vec::new(),
            topic: String::new(),
        }
    }
}

impl JsonBody for SubscriptionData {}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProducerData {
    #[serde(default)]
    pub group_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerData {
    pub consume_from_where: ConsumeFromWhere,
    pub consume_type: ConsumeType,
    #[serde(default)]
    pub group_name: String,
    pub message_model: MessageModel,
    #[serde(default, deserialize_with = "de_null_default")]
    pub subscription_data_set: Vec<SubscriptionData>,
    #[serde(default, deserialize_with = "de_bool")]
    pub unit_mode: bool,
}

/// HEART_BEAT request body. C++ omits empty sets.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HeartbeatData {
    #[serde(rename = "clientID", default)]
    pub client_id: String,
    #[serde(
        rename = "consumerDataSet",
        default,
        deserialize_with = "de_null_default"
    )]
    pub consumer_data_set: Vec<ConsumerData>,
    #[serde(
        rename = "producerDataSet",
        default,
        deserialize_with = "de_null_default"
    )]
    pub producer_data_set: Vec<ProducerData>,
}

impl JsonBody for HeartbeatData {}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn cpp_heartbeat_with_ordinals_and_string_subversion() {
        let body = br#"{"clientID":"127.0.0.1@1234","consumerDataSet":[{"consumeFromWhere":0,"consumeType":1,"groupName":"cg","messageModel":1,"subscriptionDataSet":[{"codeSet":[0],"subString":"TagA || TagB","subVersion":"1700000000000","tagsSet":["TagA","TagB"],"topic":"T1"}]}]}"#;
        let hb = HeartbeatData::decode(body).unwrap();
        assert_eq!(hb.client_id, "127.0.0.1@1234");
        assert!(hb.producer_data_set.is_empty());
        let c = &hb.consumer_data_set[0];
        assert_eq!(c.consume_type, ConsumeType::ConsumePassively);
        assert_eq!(c.message_model, MessageModel::Clustering);
        assert_eq!(
            c.consume_from_where,
            ConsumeFromWhere::ConsumeFromLastOffset
        );
        let s = &c.subscription_data_set[0];
        assert_eq!(s.sub_version, 1_700_000_000_000);
        assert_eq!(s.expression_type, "TAG");
    }

    #[test]
    fn java_heartbeat_round_trips() {
        let body = br#"{"clientID":"10.0.0.5@4242#88211","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"cg","messageModel":"CLUSTERING","subscriptionDataSet":[{"classFilterMode":false,"codeSet":[2598919],"expressionType":"TAG","subString":"TagA","subVersion":1700000000000,"tagsSet":["TagA"],"topic":"T1"}],"unitMode":false}],"producerDataSet":[{"groupName":"CLIENT_INNER_PRODUCER"}]}"#;
        let hb = HeartbeatData::decode(body).unwrap();
        assert_eq!(hb.encode(), body.to_vec());
    }

    #[test]
    fn bad_enum_is_an_error() {
        let body =
            br#"{"consumerDataSet":[{"consumeFromWhere":99,"consumeType":1,"messageModel":1}]}"#;
        assert!(HeartbeatData::decode(body).is_err());
    }
}
