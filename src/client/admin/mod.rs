//! The admin API (what `mqadmin` is built on): clusters and brokers, topics, consumer
//! progress, offset resets and message queries, all over remoting requests, so it works
//! against FerrumQ and Apache RocketMQ alike.
//!
//! One file per subject: topics (`topic.rs`), brokers (`broker.rs`), groups and consumers
//! (`group.rs`), messages (`message.rs`), NameServer settings (`namesrv.rs`).

mod broker;
mod group;
mod message;
mod namesrv;
mod topic;
mod track;

pub use message::{MessageDetail, PullOutcome};
pub use track::MessageTrack;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::error::ClientError;
use super::message::MessageQueue;

use crate::protocol::{
    ClusterInfo, ExtFields, JsonBody, RemotingCommand, RequestCode, ResponseCode, TopicList,
    TopicRouteData,
};
use crate::remoting::{ClientConfig, RemotingClient};
/// One queue's consumption: the broker's end, the group's committed offset, and the store
/// time of the last consumed message (GET_CONSUME_STATS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueProgress {
    /// The queue.
    pub queue: MessageQueue,
    /// The offset after the queue's last message.
    pub broker_offset: i64,
    /// The group's committed offset (the next message it will consume).
    pub consumer_offset: i64,
    /// Store time of the last consumed message, ms since the epoch (0: none).
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

/// A non-SUCCESS answer as an error naming the request and the address it went to.
fn error(code: RequestCode, addr: &str, resp: &RemotingCommand) -> ClientError {
    ClientError::Broker {
        what: format!("{} to {addr}", code.name()),
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

/// Milliseconds since the epoch.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
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

    /// The NameServer addresses this admin talks to, in the order given.
    pub fn namesrv_addrs(&self) -> &[String] {
        &self.namesrv
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
                Ok(resp) => return Err(error(code, ns, &resp)),
                Err(e) => last = Some(e.into()),
            }
        }
        Err(last.unwrap_or_else(|| ClientError::Config("no NameServer address".into())))
    }

    /// A request to one address (broker or NameServer) with an optional body; a
    /// non-SUCCESS answer is an error.
    async fn call(
        &self,
        addr: &str,
        code: RequestCode,
        ext: ExtFields,
        body: Option<Vec<u8>>,
        timeout: Duration,
    ) -> Result<RemotingCommand, ClientError> {
        let mut req = RemotingCommand::new_request(code, ext);
        if let Some(body) = body {
            req = req.with_body(body);
        }
        let resp = self.client.invoke(addr, req, timeout).await?;
        if resp.response_code() != ResponseCode::Success {
            return Err(error(code, addr, &resp));
        }
        Ok(resp)
    }

    async fn broker_call(
        &self,
        addr: &str,
        code: RequestCode,
        ext: ExtFields,
    ) -> Result<RemotingCommand, ClientError> {
        self.call(addr, code, ext, None, self.timeout).await
    }

    /// The same request to every NameServer, one after another; one result per address.
    async fn namesrv_each(
        &self,
        code: RequestCode,
        ext: ExtFields,
        body: Option<Vec<u8>>,
    ) -> Vec<(String, Result<RemotingCommand, ClientError>)> {
        let mut out = Vec::with_capacity(self.namesrv.len());
        for ns in &self.namesrv {
            let r = self
                .call(ns, code, ext.clone(), body.clone(), self.timeout)
                .await;
            out.push((ns.clone(), r));
        }
        out
    }

    /// Every NameServer's answer must be SUCCESS; the first failure is the error.
    async fn namesrv_all(
        &self,
        code: RequestCode,
        ext: ExtFields,
        body: Option<Vec<u8>>,
    ) -> Result<(), ClientError> {
        for (_, r) in self.namesrv_each(code, ext, body).await {
            r?;
        }
        Ok(())
    }

    /// The brokers and clusters the NameServer knows (GET_BROKER_CLUSTER_INFO).
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

    /// Every address (masters and slaves) of a cluster's brokers, as (broker name, broker
    /// id, address), by name then id.
    pub async fn cluster_addrs(
        &self,
        cluster: &str,
    ) -> Result<Vec<(String, i64, String)>, ClientError> {
        let info = self.cluster_info().await?;
        let names = info
            .cluster_addr_table
            .get(cluster)
            .ok_or_else(|| ClientError::Config(format!("no cluster named {cluster}")))?;
        let mut out = Vec::new();
        for n in names {
            if let Some(b) = info.broker_addr_table.get(n) {
                for (id, addr) in &b.broker_addrs {
                    out.push((n.clone(), *id, addr.clone()));
                }
            }
        }
        Ok(out)
    }

    /// All topic names the NameServer knows (GET_ALL_TOPIC_LIST_FROM_NAMESERVER).
    pub async fn topic_list(&self) -> Result<BTreeSet<String>, ClientError> {
        let resp = self
            .namesrv_call(RequestCode::GetAllTopicListFromNameserver, ExtFields::new())
            .await?;
        let list = TopicList::decode(&resp.body).map_err(|e| bad_body("topic list".into(), e))?;
        Ok(list.topic_list)
    }

    /// A topic's route: its brokers and queue counts (GET_ROUTEINFO_BY_TOPIC).
    pub async fn topic_route(&self, topic: &str) -> Result<TopicRouteData, ClientError> {
        let mut ext = ExtFields::with_capacity(1);
        ext.insert("topic", topic);
        let resp = self
            .namesrv_call(RequestCode::GetRouteinfoByTopic, ext)
            .await?;
        TopicRouteData::decode(&resp.body).map_err(|e| bad_body(format!("route of {topic}"), e))
    }

    /// The address of each broker of a route, by broker name: the master, else the
    /// lowest-numbered slave (RocketMQ's selectBrokerAddr, without the randomness).
    pub async fn route_brokers(
        &self,
        topic: &str,
    ) -> Result<BTreeMap<String, String>, ClientError> {
        let route = self.topic_route(topic).await?;
        Ok(route
            .broker_datas
            .iter()
            .filter_map(|b| {
                let addr = b
                    .broker_addrs
                    .get(&0)
                    .or_else(|| b.broker_addrs.values().next())?;
                Some((b.broker_name.clone(), addr.clone()))
            })
            .collect())
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

/// A body that may carry fastjson's bare (object or number) keys, as JSON.
fn lenient_json(what: &str, body: &[u8]) -> Result<serde_json::Value, ClientError> {
    let fixed = crate::protocol::lenient::quote_bare_keys(body);
    serde_json::from_slice(&fixed).map_err(|e| bad_body(what.to_string(), e))
}

/// ConsumeStats' offsetTable (MessageQueue objects as keys).
fn parse_offset_table(v: &serde_json::Value) -> Vec<QueueProgress> {
    let Some(table) = v.get("offsetTable").and_then(|t| t.as_object()) else {
        return Vec::new();
    };
    table
        .iter()
        .filter_map(|(key, w)| {
            Some(QueueProgress {
                queue: queue_of_key(key)?,
                broker_offset: w.get("brokerOffset")?.as_i64()?,
                consumer_offset: w.get("consumerOffset")?.as_i64()?,
                last_timestamp_ms: w.get("lastTimestamp").and_then(|t| t.as_i64()).unwrap_or(0),
            })
        })
        .collect()
}
