//! Consumer-group membership, shared by the push consumer and the subscribing pull consumer:
//! subscriptions as heartbeats carry them, the group's member list, leaving the group.

use std::time::Duration;

use serde_json::json;

use super::message::MessageQueue;
use crate::protocol::{ExtFields, RemotingCommand, RequestCode, ResponseCode};
use crate::remoting::RemotingClient;

const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// What a consumer takes of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subscription {
    pub expression: String,
    /// A SQL92 property filter rather than a tag expression.
    pub sql: bool,
}

impl Subscription {
    pub fn tags(expression: impl Into<String>) -> Self {
        Subscription {
            expression: expression.into(),
            sql: false,
        }
    }

    pub fn sql(expression: impl Into<String>) -> Self {
        Subscription {
            expression: expression.into(),
            sql: true,
        }
    }

    /// The `expressionType` on the wire.
    pub fn kind(&self) -> &'static str {
        if self.sql {
            "SQL92"
        } else {
            "TAG"
        }
    }

    /// SubscriptionData as heartbeats and CHECK_CLIENT_CONFIG carry it; `codeSet` holds the
    /// tags' Java hash codes, as the Java client sends.
    pub fn data(&self, topic: &str) -> serde_json::Value {
        let tags: Vec<&str> = if self.sql || self.expression.trim() == "*" {
            Vec::new()
        } else {
            self.expression
                .split("||")
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect()
        };
        let codes: Vec<i32> = tags
            .iter()
            .map(|t| ferrumq_store::java_string_hash(t))
            .collect();
        json!({"topic": topic, "subString": self.expression, "tagsSet": tags, "codeSet": codes,
            "subVersion": 0, "expressionType": self.kind(), "classFilterMode": false})
    }
}

/// A HEART_BEAT body for one consumer group. `active`: a pull consumer
/// (CONSUME_ACTIVELY), else a push consumer.
pub(crate) fn heartbeat_body<'a>(
    client_id: &str,
    group: &str,
    active: bool,
    model: &str,
    subscriptions: impl Iterator<Item = (&'a String, &'a Subscription)>,
) -> String {
    let subs: Vec<_> = subscriptions.map(|(t, s)| s.data(t)).collect();
    let kind = if active {
        "CONSUME_ACTIVELY"
    } else {
        "CONSUME_PASSIVELY"
    };
    json!({"clientID": client_id, "producerDataSet": [],
        "consumerDataSet": [{"groupName": group, "consumeType": kind, "messageModel": model,
            "consumeFromWhere": "CONSUME_FROM_LAST_OFFSET", "unitMode": false,
            "subscriptionDataSet": subs}]})
    .to_string()
}

/// Sends a heartbeat body to one broker; an error code is an error.
pub(crate) async fn heartbeat(
    client: &RemotingClient,
    addr: &str,
    body: &str,
) -> Result<(), crate::client::ClientError> {
    let req = RemotingCommand::new_request(RequestCode::HeartBeat, ExtFields::new())
        .with_body(body.as_bytes().to_vec());
    let resp = client.invoke(addr, req, CALL_TIMEOUT).await?;
    if resp.response_code() != ResponseCode::Success {
        return Err(crate::client::ClientError::Broker {
            what: format!("heartbeat to {addr}"),
            code: resp.response_code(),
            remark: resp.remark.unwrap_or_default(),
        });
    }
    Ok(())
}

/// The group's consumer ids, sorted, as one broker knows them.
pub(crate) async fn consumer_ids(
    client: &RemotingClient,
    addr: &str,
    group: &str,
) -> Option<Vec<String>> {
    let mut ext = ExtFields::with_capacity(1);
    ext.insert("consumerGroup", group);
    let req = RemotingCommand::new_request(RequestCode::GetConsumerListByGroup, ext);
    let resp = client.invoke(addr, req, CALL_TIMEOUT).await.ok()?;
    if resp.response_code() != ResponseCode::Success {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&resp.body).ok()?;
    let mut ids: Vec<String> = v
        .get("consumerIdList")?
        .as_array()?
        .iter()
        .filter_map(|i| i.as_str().map(String::from))
        .collect();
    ids.sort();
    Some(ids)
}

/// UNREGISTER_CLIENT: the broker drops this client from the group at once (the others are
/// told to rebalance).
pub(crate) async fn unregister(client: &RemotingClient, addr: &str, client_id: &str, group: &str) {
    let mut ext = ExtFields::with_capacity(2);
    ext.insert("clientID", client_id);
    ext.insert("consumerGroup", group);
    let req = RemotingCommand::new_request(RequestCode::UnregisterClient, ext);
    let _ = client.invoke(addr, req, CALL_TIMEOUT).await;
}

/// A client id as RocketMQ forms it: `ip@pid#unique`.
pub(crate) fn new_client_id() -> String {
    format!(
        "{}@{}#{}",
        super::msg_id::local_ipv4(),
        std::process::id(),
        super::msg_id::new_id()
    )
}

/// RocketMQ's AllocateMessageQueueAveragely: contiguous shares, the first `n % ids` consumers
/// one queue more.
pub fn allocate_averagely(queues: &[MessageQueue], ids: &[String], me: &str) -> Vec<MessageQueue> {
    let Some(index) = ids.iter().position(|i| i == me) else {
        return Vec::new();
    };
    let (n, c) = (queues.len(), ids.len());
    if n == 0 {
        return Vec::new();
    }
    let rem = n % c;
    let average = if n <= c {
        1
    } else if rem > 0 && index < rem {
        n / c + 1
    } else {
        n / c
    };
    let start = if rem > 0 && index < rem {
        index * average
    } else {
        index * average + rem
    };
    let range = average.min(n.saturating_sub(start));
    (0..range)
        .filter_map(|i| queues.get((start + i) % n).cloned())
        .collect()
}
