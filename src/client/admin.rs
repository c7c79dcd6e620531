//! The admin API (what `mqadmin` is built on): clusters and brokers, topics, consumer
//! progress, offset resets and message queries, all over remoting requests, so it works
//! against FerrumQ and Apache RocketMQ alike.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::error::ClientError;
use super::message::MessageQueue;
use super::pull_consumer::{decode, ReceivedMessage};
use crate::protocol::{
    ClusterInfo, ExtFields, JsonBody, RemotingCommand, RequestCode, ResponseCode, TopicList,
    TopicRouteData,
};
use crate::remoting::{ClientConfig, RemotingClient};

/// One queue's consumption: the broker's end, the group's committed offset, and the store
/// time of the last consumed message (GET_CONSUME_STATS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueProgress {
    pub queue: MessageQueue,
    pub broker_offset: i64,
    pub consumer_offset: i64,
    pub last_timestamp_ms: i64,
}

impl QueueProgress {
    /// Messages not consumed yet.
    pub fn lag(&self) -> i64 {
        (self.broker_offset - self.consumer_offset).max(0)
    }
}

/// Admin requests to NameServers and brokers.
#[derive(Clone)]
pub struct Admin {
    namesrv: Vec<String>,
    client: RemotingClient,
    timeout: Duration,
}

fn error(what: String, resp: &RemotingCommand) -> ClientError {
    ClientError::Broker {
        what,
        code: resp.response_code(),
        remark: resp.remark.clone().unwrap_or_default(),
    }
}

fn bad_body(what: String, e: impl std::fmt::Display) -> ClientError {
    ClientError::Broker {
        what,
        code: ResponseCode::SystemError,
        remark: format!("unreadable body: {e}"),
    }
}

impl Admin {
    /// `namesrv`: one address or several separated by `;`.
    pub fn new(namesrv: &str) -> Result<Self, ClientError> {
        let namesrv = super::namesrv_list(namesrv);
        if namesrv.is_empty() {
            return Err(ClientError::Config("no NameServer address".into()));
        }
        Ok(Admin {
            namesrv,
            client: RemotingClient::new(ClientConfig::default()),
            timeout: Duration::from_secs(5),
        })
    }

    /// A request to the first NameServer that answers; a non-SUCCESS answer is an error.
    async fn namesrv_call(
        &self,
        code: RequestCode,
        ext: ExtFields,
    ) -> Result<RemotingCommand, ClientError> {
        let mut last = None;
        for ns in &self.namesrv {
            let req = RemotingCommand::new_request(code, ext.clone());
            match self.client.invoke(ns, req, self.timeout).await {
                Ok(resp) if resp.response_code() == ResponseCode::Success => return Ok(resp),
                Ok(resp) => return Err(error(format!("{code:?} at {ns}"), &resp)),
                Err(e) => last = Some(e.into()),
            }
        }
        Err(last.unwrap_or_else(|| ClientError::Config("no NameServer address".into())))
    }

    async fn broker_call(
        &self,
        addr: &str,
        code: RequestCode,
        ext: ExtFields,
    ) -> Result<RemotingCommand, ClientError> {
        let req = RemotingCommand::new_request(code, ext);
        let resp = self.client.invoke(addr, req, self.timeout).await?;
        if resp.response_code() != ResponseCode::Success {
            return Err(error(format!("{code:?} at {addr}"), &resp));
        }
        Ok(resp)
    }

    pub async fn cluster_info(&self) -> Result<ClusterInfo, ClientError> {
        let resp = self
            .namesrv_call(RequestCode::GetBrokerClusterInfo, ExtFields::new())
            .await?;
        ClusterInfo::decode(&resp.body).map_err(|e| bad_body("cluster info".into(), e))
    }

    /// Master addresses of a cluster's brokers, by broker name.
    pub async fn masters(&self, cluster: &str) -> Result<BTreeMap<String, String>, ClientError> {
        let info = self.cluster_info().await?;
        let names = info
            .cluster_addr_table
            .get(cluster)
            .ok_or_else(|| ClientError::Config(format!("no cluster named {cluster}")))?;
        Ok(names
            .iter()
            .filter_map(|n| {
                let b = info.broker_addr_table.get(n)?;
                Some((n.clone(), b.broker_addrs.get(&0)?.clone()))
            })
            .collect())
    }

    pub async fn topic_list(&self) -> Result<BTreeSet<String>, ClientError> {
        let resp = self
            .namesrv_call(RequestCode::GetAllTopicListFromNameserver, ExtFields::new())
            .await?;
        let list = TopicList::decode(&resp.body).map_err(|e| bad_body("topic list".into(), e))?;
        Ok(list.topic_list)
    }

    pub async fn topic_route(&self, topic: &str) -> Result<TopicRouteData, ClientError> {
        let mut ext = ExtFields::with_capacity(1);
        ext.insert("topic", topic);
        let resp = self
            .namesrv_call(RequestCode::GetRouteinfoByTopic, ext)
            .await?;
        TopicRouteData::decode(&resp.body).map_err(|e| bad_body(format!("route of {topic}"), e))
    }

    /// Creates (or updates) a topic on every master of `cluster`, `queues` read and write
    /// queues each, perm read-write.
    pub async fn create_topic(
        &self,
        cluster: &str,
        topic: &str,
        queues: i32,
    ) -> Result<(), ClientError> {
        for addr in self.masters(cluster).await?.values() {
            self.create_topic_on(addr, topic, queues, queues, 6).await?;
        }
        Ok(())
    }

    /// Creates (or updates) a topic on one broker (UPDATE_AND_CREATE_TOPIC).
    pub async fn create_topic_on(
        &self,
        broker_addr: &str,
        topic: &str,
        read_queues: i32,
        write_queues: i32,
        perm: i32,
    ) -> Result<(), ClientError> {
        let mut ext = ExtFields::with_capacity(7);
        ext.insert("topic", topic);
        ext.insert("defaultTopic", "TBW102");
        ext.insert_display("readQueueNums", read_queues);
        ext.insert_display("writeQueueNums", write_queues);
        ext.insert_display("perm", perm);
        ext.insert("topicFilterType", "SINGLE_TAG");
        ext.insert("topicSysFlag", "0");
        self.broker_call(broker_addr, RequestCode::UpdateAndCreateTopic, ext)
            .await?;
        Ok(())
    }

    /// A group's progress on every topic it consumed, from every broker of its retry topic
    /// (as mqadmin consumerProgress -g), with the summed consume TPS.
    pub async fn group_progress(
        &self,
        group: &str,
    ) -> Result<(Vec<QueueProgress>, f64), ClientError> {
        let route = self.topic_route(&format!("%RETRY%{group}")).await?;
        let (mut out, mut tps) = (Vec::new(), 0.0);
        for b in &route.broker_datas {
            let Some(addr) = b.broker_addrs.get(&0) else {
                continue;
            };
            let mut ext = ExtFields::with_capacity(1);
            ext.insert("consumerGroup", group);
            let resp = self
                .broker_call(addr, RequestCode::GetConsumeStats, ext)
                .await?;
            out.extend(parse_offset_table(&resp.body)?);
            let fixed = crate::protocol::lenient::quote_bare_keys(&resp.body);
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&fixed) {
                tps += v.get("consumeTps").and_then(|t| t.as_f64()).unwrap_or(0.0);
            }
        }
        out.sort_by(|a, b| a.queue.cmp(&b.queue));
        Ok((out, tps))
    }

    /// Deletes a topic from every master of `cluster`, then from the NameServers.
    pub async fn delete_topic(&self, cluster: &str, topic: &str) -> Result<(), ClientError> {
        let mut ext = ExtFields::with_capacity(1);
        ext.insert("topic", topic);
        for addr in self.masters(cluster).await?.values() {
            self.broker_call(addr, RequestCode::DeleteTopicInBroker, ext.clone())
                .await?;
        }
        for ns in &self.namesrv {
            let req = RemotingCommand::new_request(RequestCode::DeleteTopicInNamesrv, ext.clone());
            let resp = self.client.invoke(ns, req, self.timeout).await?;
            if resp.response_code() != ResponseCode::Success {
                return Err(error(format!("DeleteTopicInNamesrv at {ns}"), &resp));
            }
        }
        Ok(())
    }

    /// A broker's GET_BROKER_RUNTIME_INFO table.
    pub async fn broker_runtime_info(
        &self,
        addr: &str,
    ) -> Result<BTreeMap<String, String>, ClientError> {
        let resp = self
            .broker_call(addr, RequestCode::GetBrokerRuntimeInfo, ExtFields::new())
            .await?;
        let v: serde_json::Value =
            serde_json::from_slice(&resp.body).map_err(|e| bad_body("runtime info".into(), e))?;
        Ok(v.get("table")
            .and_then(|t| t.as_object())
            .map(|t| {
                t.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// A group's progress on a topic, from every broker of the topic's route.
    pub async fn consume_stats(
        &self,
        group: &str,
        topic: &str,
    ) -> Result<Vec<QueueProgress>, ClientError> {
        let route = self.topic_route(topic).await?;
        let mut out = Vec::new();
        for b in &route.broker_datas {
            let Some(addr) = b.broker_addrs.get(&0) else {
                continue;
            };
            let mut ext = ExtFields::with_capacity(2);
            ext.insert("consumerGroup", group);
            ext.insert("topic", topic);
            let resp = self
                .broker_call(addr, RequestCode::GetConsumeStats, ext)
                .await?;
            out.extend(parse_offset_table(&resp.body)?);
        }
        out.sort_by(|a, b| a.queue.cmp(&b.queue));
        Ok(out)
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
        let route = self.topic_route(topic).await?;
        let mut out = BTreeMap::new();
        for b in &route.broker_datas {
            let Some(addr) = b.broker_addrs.get(&0) else {
                continue;
            };
            let mut ext = ExtFields::with_capacity(4);
            ext.insert("topic", topic);
            ext.insert("group", group);
            ext.insert_display("timestamp", timestamp_ms);
            ext.insert_display("isForce", force);
            let resp = self
                .broker_call(addr, RequestCode::InvokeBrokerToResetOffset, ext)
                .await?;
            let fixed = crate::protocol::lenient::quote_bare_keys(&resp.body);
            let v: serde_json::Value =
                serde_json::from_slice(&fixed).map_err(|e| bad_body("reset offsets".into(), e))?;
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

    /// Messages of `topic` stored with `key` (KEYS or UNIQ_KEY) in the last `within`, from
    /// every broker of the topic.
    pub async fn query_message_by_key(
        &self,
        topic: &str,
        key: &str,
        within: Duration,
    ) -> Result<Vec<ReceivedMessage>, ClientError> {
        let route = self.topic_route(topic).await?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let mut out = Vec::new();
        for b in &route.broker_datas {
            let Some(addr) = b.broker_addrs.get(&0) else {
                continue;
            };
            let mut ext = ExtFields::with_capacity(5);
            ext.insert("topic", topic);
            ext.insert("key", key);
            ext.insert("maxNum", "64");
            ext.insert_display("beginTimestamp", now - within.as_millis() as i64);
            ext.insert_display("endTimestamp", now + 1_000);
            let req = RemotingCommand::new_request(RequestCode::QueryMessage, ext);
            let resp = self.client.invoke(addr, req, self.timeout).await?;
            match resp.response_code() {
                ResponseCode::Success => {
                    let queue = MessageQueue {
                        topic: topic.to_string(),
                        broker_name: b.broker_name.clone(),
                        queue_id: -1,
                    };
                    out.extend(decode(&queue, &resp.body)?);
                }
                ResponseCode::QueryNotFound => {}
                _ => return Err(error(format!("QueryMessage at {addr}"), &resp)),
            }
        }
        Ok(out)
    }
}

/// A MessageQueue written as a fastjson object key.
fn queue_of_key(key: &str) -> Option<MessageQueue> {
    let q: serde_json::Value = serde_json::from_str(key).ok()?;
    Some(MessageQueue {
        topic: q.get("topic")?.as_str()?.to_string(),
        broker_name: q.get("brokerName")?.as_str()?.to_string(),
        queue_id: i32::try_from(q.get("queueId")?.as_i64()?).ok()?,
    })
}

/// ConsumeStats' offsetTable (MessageQueue objects as keys).
fn parse_offset_table(body: &[u8]) -> Result<Vec<QueueProgress>, ClientError> {
    let fixed = crate::protocol::lenient::quote_bare_keys(body);
    let v: serde_json::Value =
        serde_json::from_slice(&fixed).map_err(|e| bad_body("consume stats".into(), e))?;
    let Some(table) = v.get("offsetTable").and_then(|t| t.as_object()) else {
        return Ok(Vec::new());
    };
    Ok(table
        .iter()
        .filter_map(|(key, w)| {
            Some(QueueProgress {
                queue: queue_of_key(key)?,
                broker_offset: w.get("brokerOffset")?.as_i64()?,
                consumer_offset: w.get("consumerOffset")?.as_i64()?,
                last_timestamp_ms: w.get("lastTimestamp").and_then(|t| t.as_i64()).unwrap_or(0),
            })
        })
        .collect())
}
