//! Topic routes from the NameServers, cached: the writable queues of a topic and the master
//! address of each broker. A route is refreshed after `ROUTE_TTL`, or at once when a send
//! to one of its brokers fails.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;

use super::error::ClientError;
use super::message::MessageQueue;
use crate::protocol::{
    perm, GetRouteInfoRequestHeader, JsonBody, RemotingCommand, RequestCode, ResponseCode,
    TopicRouteData,
};
use crate::remoting::RemotingClient;

/// RocketMQ clients poll routes every 30 s.
const ROUTE_TTL: Duration = Duration::from_secs(30);
/// The auto-create template topic.
const DEFAULT_TOPIC: &str = "TBW102";

/// The queues a topic can be sent to, with each broker's master address.
#[derive(Debug)]
pub(crate) struct PublishInfo {
    pub queues: Vec<MessageQueue>,
    /// Broker name → its master's address (for reads, its slave's while the master is down).
    pub masters: HashMap<String, String>,
    /// Broker name → every address of the group by broker id (a pull may be pointed at a
    /// slave: suggestWhichBrokerId).
    pub replicas: HashMap<String, std::collections::BTreeMap<i64, String>>,
}

pub(crate) struct RouteCache {
    namesrv: Vec<String>,
    client: RemotingClient,
    timeout: Duration,
    /// Queues per broker for a topic that does not exist yet (created on first send).
    new_topic_queues: i32,
    /// Read on every send by every task: a read lock, not a mutex.
    routes: RwLock<HashMap<String, (Instant, Arc<PublishInfo>)>>,
}

impl RouteCache {
    pub fn new(
        namesrv: Vec<String>,
        client: RemotingClient,
        timeout: Duration,
        new_topic_queues: i32,
    ) -> Self {
        RouteCache {
            namesrv,
            client,
            timeout,
            new_topic_queues,
            routes: RwLock::new(HashMap::new()),
        }
    }

    /// The topic's publish info, from the cache while fresh.
    pub async fn publish_info(&self, topic: &str) -> Result<Arc<PublishInfo>, ClientError> {
        if let Some((at, info)) = self.routes.read().get(topic) {
            if at.elapsed() < ROUTE_TTL {
                return Ok(info.clone());
            }
        }
        let info = Arc::new(self.fetch_publish_info(topic).await?);
        self.routes
            .write()
            .insert(topic.to_string(), (Instant::now(), info.clone()));
        Ok(info)
    }

    /// The queues a topic can be read from, with each broker's master address (not cached:
    /// consumers ask when they assign queues).
    pub async fn subscribe_info(&self, topic: &str) -> Result<PublishInfo, ClientError> {
        let route = self
            .fetch_route(topic)
            .await?
            .ok_or_else(|| ClientError::NoRoute(topic.to_string()))?;
        Ok(queues_of(topic, &route, perm::READ, |q| q.read_queue_nums))
    }

    /// Forgets a topic's route (a send to it failed: the broker may have moved).
    pub fn invalidate(&self, topic: &str) {
        self.routes.write().remove(topic);
    }

    async fn fetch_publish_info(&self, topic: &str) -> Result<PublishInfo, ClientError> {
        if let Some(route) = self.fetch_route(topic).await? {
            return Ok(queues_of(topic, &route, perm::WRITE, |q| {
                q.write_queue_nums
            }));
        }
        let route = self
            .fetch_route(DEFAULT_TOPIC)
            .await?
            .ok_or_else(|| ClientError::NoRoute(topic.to_string()))?;
        let n = self.new_topic_queues;
        Ok(queues_of(topic, &route, perm::WRITE, |q| {
            q.write_queue_nums.min(n)
        }))
    }

    /// The route from the first NameServer that answers.
    async fn fetch_route(&self, topic: &str) -> Result<Option<TopicRouteData>, ClientError> {
        let mut last_err = None;
        for ns in &self.namesrv {
            let header = GetRouteInfoRequestHeader {
                topic: topic.to_owned(),
                accept_standard_json_only: true,
            };
            let req =
                RemotingCommand::new_request(RequestCode::GetRouteinfoByTopic, Default::default())
                    .with_header(&header);
            match self.client.invoke(ns, req, self.timeout).await {
                Ok(resp) => match resp.response_code() {
                    ResponseCode::Success => {
                        return TopicRouteData::decode(&resp.body).map(Some).map_err(|e| {
                            ClientError::Broker {
                                what: format!("route of {topic} from {ns}"),
                                code: ResponseCode::SystemError,
                                remark: e.to_string(),
                            }
                        })
                    }
                    ResponseCode::TopicNotExist => return Ok(None),
                    code => {
                        last_err = Some(ClientError::Broker {
                            what: format!("route of {topic} from {ns}"),
                            code,
                            remark: resp.remark.unwrap_or_default(),
                        })
                    }
                },
                Err(e) => last_err = Some(e.into()),
            }
        }
        Err(last_err.unwrap_or_else(|| ClientError::Config("no NameServer address".into())))
    }
}

/// Queues with `need` permission on brokers that have a master, in broker-name order. For
/// reads a broker whose master is down is reached through its slave (lowest id) instead:
/// consumers go on reading what was replicated.
fn queues_of(
    topic: &str,
    route: &TopicRouteData,
    need: i32,
    count: impl Fn(&crate::protocol::QueueData) -> i32,
) -> PublishInfo {
    let read = need == perm::READ;
    let masters: HashMap<String, String> = route
        .broker_datas
        .iter()
        .filter_map(|b| {
            let addr = b.broker_addrs.get(&0).or_else(|| {
                read.then(|| {
                    b.broker_addrs
                        .iter()
                        .min_by_key(|(id, _)| **id)
                        .map(|(_, a)| a)
                })
                .flatten()
            })?;
            Some((b.broker_name.clone(), addr.clone()))
        })
        .collect();
    let mut datas: Vec<_> = route.queue_datas.iter().collect();
    datas.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
    let queues = datas
        .into_iter()
        .filter(|q| q.perm & need != 0 && masters.contains_key(&q.broker_name))
        .flat_map(|q| {
            (0..count(q).max(0)).map(move |id| MessageQueue {
                topic: topic.to_string(),
                broker_name: q.broker_name.clone(),
                queue_id: id,
            })
        })
        .collect();
    let replicas = route
        .broker_datas
        .iter()
        .map(|b| {
            let addrs = b
                .broker_addrs
                .iter()
                .map(|(id, a)| (*id, a.clone()))
                .collect();
            (b.broker_name.clone(), addrs)
        })
        .collect();
    PublishInfo {
        queues,
        masters,
        replicas,
    }
}
